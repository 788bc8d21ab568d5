"""Clients (委托方), their contracts, and which modules each contract has on."""
