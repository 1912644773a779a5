"""The compute sector's headless adversary simulator (`depin simulate compute`)."""
