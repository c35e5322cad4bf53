# recall-rp: the reference relying party (targets/rp).
#
# Built by internal/runtime/docker (BuildReferenceImages, or on demand by that runtime): the build
# context holds only this file and the static binary "rp", compiled from targets/cmd/rp with
# CGO_ENABLED=0 -trimpath. Keep it FROM scratch with no "# syntax=" line: the build must not pull
# anything. The image is tagged recall-rp:<hash of this file and the binary>.
FROM scratch
COPY rp /rp
USER 65534:65534
EXPOSE 8080
ENTRYPOINT ["/rp"]
