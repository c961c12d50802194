island "ouest" {
  garage {
    version = "2.5.0ÿş"
  }
}
