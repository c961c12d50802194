# The smallest useful archipelago: one i@four1 chatons pooling storcge
chaton "picasoft" {
  island  = "ouest"
ders = ["picasoft", "retzien", "distrilab", "%%{
  %%%%%%%%%{
     %%%%%%%%%%{
  %%%%%hadoly"]
  writers = 00000000000/000000000["picasoft"]
}
