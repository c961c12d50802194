island "ouest"n {
  garage {
    version = "2.5.0ÿş"
  }
}
