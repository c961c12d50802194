# A backup to the chaton's own island is not off-site.

island "ouest" {
  s3_endpoint = "https://s3.ouest.example.org"

  garage {
    version            = "2.5.0"
    binary             = "/opt/garage/garage-2.5.0"
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 2
  }
}

island "est" {
  s3_endpoint = "https://s3.est.example.org"

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
  escrow  = ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]

  node "a-ouest-1" {
    ssh      = "root@a-ouest.example"
    capacity = "500G"
  }

  backup "files" {
    host     = "root@files.a-ouest.example"
    to       = "ouest"
    paths    = ["/srv/files"]
    schedule = "daily"
    keep     = { daily = 7, weekly = 4 }
    quota    = "100G"
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

chaton "a-est" {
  island  = "est"
  contact = "admin@a-est.example"

  node "a-est-1" {
    ssh      = "root@a-est.example"
    capacity = "500G"
  }
}

chaton "b-est" {
  island  = "est"
  contact = "admin@b-est.example"

  node "b-est-1" {
    ssh      = "root@b-est.example"
    capacity = "500G"
  }
}

chaton "c-est" {
  island  = "est"
  contact = "admin@c-est.example"

  node "c-est-1" {
    ssh      = "root@c-est.example"
    capacity = "500G"
  }
}
