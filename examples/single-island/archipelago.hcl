# The smallest useful archipelago: one island, four chatons pooling storage,
# and a shared bucket. Backups need a second island (a chaton never backs up
# to an island it runs): see ../archipelago for a full example.

island "ouest" {
  garage {
    version            = "2.5.0"
    binary             = "https://garagehq.deuxfleurs.fr/_releases/v2.5.0/x86_64-unknown-linux-musl/garage"
    # sha256sum of that binary: archipel refuses to install anything else.
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 3
  }
}

chaton "picasoft" {
  island  = "ouest"
  contact = "technique@picasoft.net"

  node "pica-1" {
    ssh      = "root@pica1.picasoft.net"
    capacity = "500G"
  }
}

chaton "retzien" {
  island  = "ouest"
  contact = "admin@retzien.fr"

  node "retzien-1" {
    ssh      = "admin@stockage.retzien.fr:2222"
    capacity = "1T"
    data_dir = "/srv/garage/data"
  }
}

chaton "distrilab" {
  island  = "ouest"
  contact = "contact@distrilab.fr"

  node "distri-1" {
    ssh      = "root@garage.distrilab.fr"
    capacity = "250G"
  }
}

chaton "hadoly" {
  island  = "ouest"
  contact = "contact@hadoly.fr"

  node "hadoly-1" {
    ssh      = "root@s3.hadoly.fr"
    capacity = "400G"
  }
}

bucket "chatons-docs" {
  island  = "ouest"
  quota   = "20G"
  readers = ["picasoft", "retzien", "distrilab", "hadoly"]
  writers = ["picasoft"]
}
