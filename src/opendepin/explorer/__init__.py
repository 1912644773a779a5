"""The explorer: web pages served by the node (map, devices, epochs, network), offline API documents."""
