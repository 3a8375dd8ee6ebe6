"""Built-in handlers, each one module behind `bot.api.Handler`, found through entry points."""
