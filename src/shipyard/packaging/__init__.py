"""Production packaging: container build contexts and Kubernetes manifests for deployments."""
