// The linearizability checker of the chaos tests (test/chaos/): porcupine over the KV history the driver records.
module mu-on-kubernetes/test/chaos/linearizability

go 1.22

require github.com/anishathalye/porcupine v1.3.1
