"""The Hub: the download client (huggingface_hub), the publishing backends (git + git-lfs
for a local hub, HfApi for a remote one) and the local hub server (olah)."""
