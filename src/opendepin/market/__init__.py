"""The market: users pay for service with data credits; usage is metered with receipts the payer signs."""
