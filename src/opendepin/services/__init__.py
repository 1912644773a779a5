"""The node's services over the store: the imperative shell around the pure core."""
