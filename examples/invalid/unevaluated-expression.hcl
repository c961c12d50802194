# An expression archipel does not evaluate.

island "ouest" {
  garage {
    version            = "2.5.0"
    binary             = "/opt/garage/garage-2.5.0"
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 2
  }
}

chaton "a-ouest" {
  island  = "ouest"
  contact = "admin@a-ouest.example"

  node "a-ouest-1" {
    ssh      = "root@a-ouest.example"
    capacity = "${var.size}"
  }
}

chaton "b-ouest" {
  island  = "ouest"
  contact = "admin@b-ouest.example"

  node "b-ouest-1" {
    ssh      = "root@b-ouest.example"
    capacity = "${var.size}"
  }
}

chaton "c-ouest" {
  island  = "ouest"
  contact = "admin@c-ouest.example"

  node "c-ouest-1" {
    ssh      = "root@c-ouest.example"
    capacity = "${var.size}"
  }
}

