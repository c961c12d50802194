#!/bin/sh
# archipel vault pass (placeholder until the pass lands)
exit 2
