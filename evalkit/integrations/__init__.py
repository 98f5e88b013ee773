"""evalkit inside other people's training loops (layer 7, a surface like evalkit/api.py): `trl.EvalkitCallback`."""
