"""The API's endpoints: one declaration each (registry.py, of the kinds endpoint.py defines),
each endpoint's work in its own module (tasks.py: /trace, /train, /gradcheck, /params;
neuron.py, export_csv.py, export_torch.py, sample.py; info.py and bugs.py answer GETs), the
request models generated from the engine's request (schemas.py) and the routes made from the
registry (routes.py)."""
