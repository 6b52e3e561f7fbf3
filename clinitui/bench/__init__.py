"""`clinitui bench`: clinitui against the Hugging Face Trainer (uses the engine from above, like sweep/)."""
