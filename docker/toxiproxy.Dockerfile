# recall-toxiproxy: toxiproxy's server (github.com/Shopify/toxiproxy/v2 from recall's go.mod), the
# proxy the docker runtime puts on a scenario's declared links; 8474 serves its API.
#
# Built by internal/runtime/docker (BuildReferenceImages, or on demand by that runtime): the build
# context holds only this file and the static binary "toxiproxy", compiled from
# targets/cmd/toxiproxy with CGO_ENABLED=0 -trimpath. Keep it FROM scratch with no "# syntax=" line:
# the build must not pull anything. The image is tagged recall-toxiproxy:<hash of this file and the
# binary>.
FROM scratch
COPY toxiproxy /toxiproxy
USER 65534:65534
EXPOSE 8474
ENTRYPOINT ["/toxiproxy"]
