# Island "sud": four chatons, backing up to "ouest" and "est".

chaton "sans-nuage" {
  island  = "sud"
  contact = "contact@sans-nuage.fr"
  escrow  = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmEI2X2Dz8w0uyidWlTm7lA9A4SN/CfiPu9MJKDOL8f contact@sans-nuage.fr"]

  node "sn-1" {
    ssh      = "root@s3-1.sans-nuage.fr"
    capacity = "1.2T"
  }

  node "sn-2" {
    ssh      = "root@s3-2.sans-nuage.fr"
    capacity = "1.2T"
  }

  backup "cloud" {
    host     = "root@cloud.sans-nuage.fr"
    to       = "ouest"
    paths    = ["/srv/nextcloud"]
    exclude  = ["*.tmp", "cache/"]
    schedule = "*-*-* 01:30"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "180G"
  }
}

chaton "libreon" {
  island  = "sud"
  contact = "contact@libreon.fr"
  escrow  = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMeol8Qk85R9YR7C4GaF2wwxRav4WO0VaH5OgIW0nFov contact@libreon.fr"]

  node "libreon-1" {
    ssh      = "root@stock.libreon.fr"
    capacity = "1.6T"
  }

  backup "forge" {
    host     = "root@forge.libreon.fr"
    to       = "est"
    paths    = ["/var/lib/forgejo"]
    exclude  = ["*.tmp", "cache/"]
    schedule = "*-*-* 02:00"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "80G"
  }
}

chaton "alolise" {
  island  = "sud"
  contact = "contact@alolise.org"
  escrow  = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPk080ya9FsrtJbS/+Y/GeNfsGq9Jqr74xtG/LuUcUQW contact@alolise.org"]

  node "alolise-1" {
    ssh      = "root@s3.alolise.org"
    capacity = "700G"
  }

  backup "wiki" {
    host     = "root@wiki.alolise.org"
    to       = "est"
    paths    = ["/var/www/wiki"]
    exclude  = ["*.tmp", "cache/"]
    schedule = "Sun 06:00"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "10G"
  }
}

chaton "katzei" {
  island  = "sud"
  contact = "contact@katzei.fr"
  escrow  = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIK8G55/ndGqpwM/tql8Sw2pU4Psd7y/owtyl8bdA/5Uc contact@katzei.fr"]

  node "katzei-1" {
    ssh      = "root@garage.katzei.fr"
    capacity = "1T"
  }

  backup "mail" {
    host     = "root@mx.katzei.fr"
    to       = "ouest"
    paths    = ["/var/vmail"]
    exclude  = ["*.tmp", "cache/"]
    schedule = "*-*-* 04:00"
    keep     = { daily = 7, weekly = 4, monthly = 6 }
    quota    = "90G"
  }
}

bucket "sud-shared-assets" {
  island  = "sud"
  quota   = "50G"
  readers = ["sans-nuage", "libreon", "alolise", "katzei"]
  writers = ["sans-nuage"]
}
