"""The collection module (催收管理): for now its compliance gate (see ``services``)."""
