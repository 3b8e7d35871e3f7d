"""What is read from a recorded pass: norms, plain data, the tidy CSV, the neuron view,
the PyTorch script."""
