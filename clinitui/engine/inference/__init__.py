"""What a checkpoint predicts, and a checkpoint applied to a data file (eval, predict)."""
