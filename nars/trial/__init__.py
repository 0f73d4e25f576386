"""What one search trial is: the proxy contract (point -> config), the keys it reports, initialisation from weights,
its costs and the one picklable spec the driver and the trials share."""
