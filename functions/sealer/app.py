"""TransparencySealerFunction (each minute): append new audit rows to the transparency log's
Merkle tree, sign a checkpoint with the KMS key, copy it to the Object Lock bucket."""

from insurance_agent.cold_start import init_phase

with init_phase():
    from insurance_agent.scheduled import seal_handler

handler = seal_handler
