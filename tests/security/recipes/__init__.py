"""Route recipes, one module per context; every module here is loaded by the walk."""
