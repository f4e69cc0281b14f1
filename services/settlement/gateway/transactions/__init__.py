"""One module per group of national transactions; each decides, the gateway records."""
