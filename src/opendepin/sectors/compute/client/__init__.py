"""The compute sector's command line: the provider agent (`depin provider compute`), the tenant's commands
(`depin compute ...`) and the isolated job runner they use. Faces: they do I/O; the plug-in never imports
them."""
