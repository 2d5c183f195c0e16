"""Accounts: patients, hospital admins, logins and password rules, identity numbers, throttling."""
