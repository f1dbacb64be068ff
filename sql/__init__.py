"""SQL files of kitrain, installed as the package ``kitrain.sql`` (see pyproject.toml)."""
