#!/bin/sh
exec "${FSDFS_BUILD:-build}/tests/unit_sum"
