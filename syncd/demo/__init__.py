"""``syncd demo``: the generated example network and one full cycle over it."""
