"""Family-doctor contracts: a patient signs a verified doctor as their health manager."""
