"""Home-visit services and their orders: the catalogue, where a provider reaches, the price with
the platform's fee, and the order's life from payment to completion."""
