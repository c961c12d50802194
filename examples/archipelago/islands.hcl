# The islands of the archipelago: one Garage cluster each, run together by
# the chatons that declare themselves members (see the other files).
# Garage releases: https://garagehq.deuxfleurs.fr/download/

island "ouest" {
  # A reverse proxy with TLS in front of the nodes' S3 ports: backups travel
  # encrypted and survive a node being down.
  s3_endpoint = "https://s3.ouest.archipel.example"

  garage {
    version            = "2.5.0"
    binary             = "https://garagehq.deuxfleurs.fr/_releases/v2.5.0/x86_64-unknown-linux-musl/garage"
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 3
  }
}

island "est" {
  # A load-balanced name in front of the island's S3 endpoints.
  s3_endpoint = "https://s3.est.archipel.example"

  garage {
    version            = "2.5.0"
    binary             = "https://garagehq.deuxfleurs.fr/_releases/v2.5.0/x86_64-unknown-linux-musl/garage"
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 3
    db_engine          = "sqlite" # small machines: less RAM than LMDB
  }
}

island "sud" {
  s3_endpoint = "https://s3.sud.archipel.example"

  garage {
    version            = "2.5.0"
    binary             = "https://garagehq.deuxfleurs.fr/_releases/v2.5.0/x86_64-unknown-linux-musl/garage"
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 3
    s3_region          = "sud"
  }
}
