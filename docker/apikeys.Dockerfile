# recall-apikeys: the reference API-key authority (targets/apikey).
#
# Built by internal/runtime/docker (BuildReferenceImages, or on demand by that runtime): the build
# context holds only this file and the static binary "apikeys", compiled from targets/cmd/apikeys with
# CGO_ENABLED=0 -trimpath. Keep it FROM scratch with no "# syntax=" line: the build must not pull
# anything. The image is tagged recall-apikeys:<hash of this file and the binary>.
FROM scratch
COPY apikeys /apikeys
USER 65534:65534
EXPOSE 8080
ENTRYPOINT ["/apikeys"]
