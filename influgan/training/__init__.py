"""Training the shipped look prior offline (``python -m influgan.training.pretrain``) on photos and procedural or
film looks. Nothing here runs in the app or the CLI."""
