# Island "ouest": four chatons, backing up to "est" and "sud".

chaton "picasoft" {
  island  = "ouest"
  contact = "technique@picasoft.net"
  escrow  = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBZUh0zw7EhMgupl3O6bfCCRGI7Ee6TrH/MBmdJkcJ1Y technique@picasoft.net"]

  node "pica-1" {
    ssh      = "root@pica1.picasoft.net"
    capacity = "1T"
  }

  node "pica-2" {
    ssh      = "root@pica2.picasoft.net"
    capacity = "1T"
  }

  backup "nextcloud" {
    host     = "root@cloud.picasoft.net"
    to       = "est"
    paths    = ["/var/www/nextcloud/data"]
    exclude  = ["*.tmp", "cache/"]
    schedule = "*-*-* 03:00"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "300G"
  }

  backup "mattermost" {
    host     = "root@team.picasoft.net"
    to       = "sud"
    paths    = ["/var/lib/mattermost", "/etc/mattermost"]
    exclude  = ["*.tmp", "cache/"]
    schedule = "*-*-* 04:30"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "50G"
  }
}

chaton "retzien" {
  island  = "ouest"
  contact = "admin@retzien.fr"
  escrow  = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB4j2zHRUF8o+7N1C3v6m9W7jSjrlBFzpai1uzwuM6DK admin@retzien.fr"]

  node "retzien-1" {
    ssh      = "admin@stockage.retzien.fr:2222"
    capacity = "2T"
  }

  backup "mail" {
    host     = "root@mail.retzien.fr"
    to       = "est"
    paths    = ["/var/vmail"]
    exclude  = ["*.tmp", "cache/"]
    schedule = "*-*-* 0/6:00"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "120G"
  }
}

chaton "distrilab" {
  island  = "ouest"
  contact = "contact@distrilab.fr"
  escrow  = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAeA7ERUdV5pRg4HAvaycWLDEhsVXFxBGL5FEnMYTS++ contact@distrilab.fr"]

  node "distri-1" {
    ssh      = "root@garage.distrilab.fr"
    capacity = "1T"
  }

  backup "web" {
    host     = "root@web.distrilab.fr"
    to       = "sud"
    paths    = ["/srv/www"]
    exclude  = ["*.tmp", "cache/"]
    schedule = "daily"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "40G"
  }
}

chaton "hadoly" {
  island  = "ouest"
  contact = "contact@hadoly.fr"
  escrow  = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINILsru8XNOgguOAds5Rp1ong03tyb9MhH7UoSIt+R2B contact@hadoly.fr"]

  node "hadoly-1" {
    ssh      = "root@s3.hadoly.fr"
    capacity = "800G"
  }

  backup "peertube" {
    host     = "root@video.hadoly.fr"
    to       = "est"
    paths    = ["/var/www/peertube/storage"]
    exclude  = ["*.tmp", "cache/"]
    schedule = "Mon..Sat 01:00"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "250G"
  }
}
