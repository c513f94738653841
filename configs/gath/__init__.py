"""The gath trainer's own experiments (experiment/), on train_gath.yaml's search path."""
