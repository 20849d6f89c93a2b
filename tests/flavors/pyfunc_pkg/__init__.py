"""A user package (not installed) holding a pyfunc model in a submodule."""
