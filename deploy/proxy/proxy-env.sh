# Source this to send curl, skopeo, wget and other HTTP clients through the local dfdaemon.
# Note: Go programs (skopeo, containerd) never proxy loopback addresses such as 127.0.0.1 or localhost.
export HTTP_PROXY=http://127.0.0.1:4001
export HTTPS_PROXY=http://127.0.0.1:4001
export http_proxy=$HTTP_PROXY https_proxy=$HTTPS_PROXY
