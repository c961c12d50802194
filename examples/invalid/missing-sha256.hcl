# The Garage binary is not pinned: sha256 is mandatory.

island "ouest" {
  garage {
    version            = "2.5.0"
    binary             = "/opt/garage/garage-2.5.0"
    replication_factor = 2
  }
}

chaton "a-ouest" {
  island  = "ouest"
  contact = "admin@a-ouest.example"

  node "a-ouest-1" {
    ssh      = "root@a-ouest.example"
    capacity = "500G"
  }
}

chaton "b-ouest" {
  island  = "ouest"
  contact = "admin@b-ouest.example"

  node "b-ouest-1" {
    ssh      = "root@b-ouest.example"
    capacity = "500G"
  }
}

chaton "c-ouest" {
  island  = "ouest"
  contact = "admin@c-ouest.example"

  node "c-ouest-1" {
    ssh      = "root@c-ouest.example"
    capacity = "500G"
  }
}

