#!/bin/sh
# The README's main command: vlbatch's built-in pipelines on the files of Samples/Demo, answered by the bundled demo
# model (no --model given, so vlbatch takes Samples/Models/vlbatch-demo-qwen3.5: a 1.66 M-parameter Qwen3.5 trained
# for these samples, a toy). Prints one JSON record per file on standard output; compare the answers ("text",
# "label") with Samples/Demo/expected.jsonl. Build output, a note on the model and each run's summary go to standard
# error.
#
# Tests/vlbatchTests/DemoModelTests.swift runs the `"$vlbatch" run ...` lines below and checks their answers: keep
# each on one line, arguments separated by single spaces, without quotes.
set -eu
cd "$(dirname "$0")/.."
swift build -c release --product vlbatch >&2
vlbatch="$(swift build -c release --show-bin-path)/vlbatch"
"$vlbatch" run caption-images Samples/Demo/scenes Samples/Demo/documents
"$vlbatch" run classify-documents Samples/Demo/documents Samples/Demo/texts
