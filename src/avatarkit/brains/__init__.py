"""Built-in brains. Each module registers its brain through the ``avatarkit`` entry points."""
