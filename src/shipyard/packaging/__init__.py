"""Production packaging: what it takes to run Shipyard outside one machine.

Container build contexts (``shipyard build``), Kubernetes manifests
(``shipyard k8s``), Grafana dashboards and Prometheus alert rules are generated
as plain data from what Shipyard knows, with no secret value in them: tokens,
keys and database URLs come from the environment the platform gives the
process. Nothing here runs a service.
"""
