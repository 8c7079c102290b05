"""The tests' AWS simulations: moto's server behind a fault injector (`faults`) and, on
request, behind a layer as strict as AWS (`strict`)."""
