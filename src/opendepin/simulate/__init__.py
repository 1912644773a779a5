"""Headless simulations (`depin simulate …`): scenario runs scored against the ground truth."""
