# Two jobs on one host that want different restics.

island "ouest" {
  s3_endpoint = "https://s3.ouest.example.org"

  garage {
    version            = "2.5.0"
    binary             = "/opt/garage/garage-2.5.0"
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 1
  }
}

island "est" {
  s3_endpoint = "https://s3.est.example.org"

  garage {
    version            = "2.5.0"
    binary             = "/opt/garage/garage-2.5.0"
    sha256             = "0f9ea4a2b5d0b7e4c8a1c6d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3"
    replication_factor = 1
  }
}

chaton "a-est" {
  island  = "est"
  contact = "admin@a-est.example"

  node "a-est-1" {
    ssh      = "root@a-est-1.example"
    capacity = "500G"
  }
}

chaton "b-ouest" {
  island  = "ouest"
  contact = "admin@b-ouest.example"
  escrow  = ["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]

  node "b-ouest-1" {
    ssh      = "root@b-ouest-1.example"
    capacity = "500G"
  }

  backup "mail" {
    host     = "root@mail.b-ouest.example"
    to       = "est"
    paths    = ["/var/vmail"]
    schedule = "daily"
    keep     = { daily = 7 }
    quota    = "50G"
  }

  backup "config" {
    host     = "root@mail.b-ouest.example"
    to       = "est"
    paths    = ["/etc"]
    schedule = "daily"
    keep     = { daily = 7 }
    quota    = "1G"
    restic   = { binary = "/opt/restic-0.17.3", sha256 = "5e1d8b0b7c9a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e" }
  }
}
