# Island "est": four chatons, backing up to "ouest" and "sud".

chaton "deuxfleurs" {
  island  = "est"
  contact = "coucou@deuxfleurs.fr"
  escrow  = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJHLrLRqLRxnvAtevFp1VyBAKvi6fywKmB0Ke8po597Q coucou@deuxfleurs.fr"]

  node "df-orsay" {
    ssh      = "root@orsay.deuxfleurs.fr"
    capacity = "4T"
  }

  node "df-lyon" {
    ssh      = "root@lyon.deuxfleurs.fr"
    capacity = "3T"
  }

  backup "matrix" {
    host     = "root@im.deuxfleurs.fr"
    to       = "ouest"
    paths    = ["/var/lib/matrix-synapse"]
    exclude  = ["*.tmp", "cache/"]
    schedule = "*-*-* 02:15"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "150G"
  }

  backup "plume" {
    host     = "root@plume.deuxfleurs.fr"
    to       = "sud"
    paths    = ["/var/lib/plume"]
    exclude  = ["*.tmp", "cache/"]
    schedule = "weekly"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "20G"
  }
}

chaton "42l" {
  island  = "est"
  contact = "contact@42l.fr"
  escrow  = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPDmjg+S91VeAi8EGbEkuCfpsljSzkwM4V2n6aj7S180 contact@42l.fr"]

  node "42l-1" {
    ssh      = "root@garage.42l.fr"
    capacity = "1.5T"
  }

  backup "nitter" {
    host     = "root@apps.42l.fr"
    to       = "ouest"
    paths    = ["/srv/apps"]
    exclude  = ["*.tmp", "cache/"]
    schedule = "*-*-* 05:00"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "60G"
  }
}

chaton "chapril" {
  island  = "est"
  contact = "admin@chapril.org"
  escrow  = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFM0CMa2nGMWoTuB3QsVWRC+ukzQdzqsJdZOzhE6cFBB admin@chapril.org"]

  node "chapril-1" {
    ssh      = "root@s3.chapril.org"
    capacity = "600G"
  }

  backup "pad" {
    host     = "root@pad.chapril.org"
    to       = "sud"
    paths    = ["/var/lib/etherpad"]
    exclude  = ["*.tmp", "cache/"]
    schedule = "*-*-* 00/4:30"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "30G"
  }
}

chaton "tedomum" {
  island  = "est"
  contact = "contact@tedomum.net"
  escrow  = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIGzqCaXmISqg6/rSu/tcDmpVlcjbcv4xwytHkcnUpYe contact@tedomum.net"]

  node "tedomum-1" {
    ssh      = "root@store.tedomum.net"
    capacity = "2T"
  }

  backup "mail" {
    host     = "root@mail.tedomum.net"
    to       = "ouest"
    paths    = ["/var/mail", "/etc/postfix"]
    exclude  = ["*.tmp", "cache/"]
    schedule = "*-*-* 03:45"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "200G"
  }
}
