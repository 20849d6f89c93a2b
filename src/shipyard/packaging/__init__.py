"""Production packaging: what it takes to run Shipyard outside one machine.

Container build contexts (``shipyard build``) and Kubernetes manifests
(``shipyard k8s``) are generated from a deployment as plain data, with no
secret value in them: tokens, keys and database URLs come from the environment
the platform gives the process.
"""
