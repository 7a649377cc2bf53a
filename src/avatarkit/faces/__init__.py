"""Built-in faces. Each module registers its face through the ``avatarkit`` entry points."""
