"""What a request asks for: a recorded pass, training, a gradient check, the initial state."""
